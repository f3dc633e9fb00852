"""nbgrader settings of every hub user (this folder is on each user's JUPYTER_CONFIG_PATH, see
hub/roster.py): the course settings, the exchange of this hub, and the exchange plugins that
keep submissions and feedback private (hub/plugins.py)."""

import os

c = get_config()  # noqa: F821
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
load_subconfig(os.path.join(REPO, "autograder", "nbgrader_settings.py"))  # noqa: F821  (puts REPO on sys.path)
c.Exchange.root = os.environ["RNN_LABS_EXCHANGE"]
c.ExchangeFactory.submit = "hub.plugins.PrivateSubmit"
c.ExchangeFactory.release_feedback = "hub.plugins.PrivateReleaseFeedback"
