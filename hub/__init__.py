"""The course on a JupyterHub (`make hub`): accounts from a roster, nbgrader's exchange with
permissions that keep students apart, nbgrader's extensions by role.

Modules:
    roster       the roster file, Unix accounts, each role's environment
    exchange     the exchange folders and their permissions
    plugins      nbgrader exchange plugins: private submissions and feedback
    auth         the local demo's authenticator: a password per roster user
    python_env   the Python the users run (a copy of the project's interpreter, its packages)
    course_root  an instructor's nbgrader course root
    launch       what `make hub` runs: all of the above, then JupyterHub
    as_user      run a command as a roster user, with the environment the hub gives them
    audit        try, as one student, to reach another's work; say what worked
Configuration: jupyterhub_config.py, roster.csv, config/<role>/ (Jupyter config folders on
each user's JUPYTER_CONFIG_PATH), package.json (the proxy, from npm).
"""
