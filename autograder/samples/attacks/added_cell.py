# ATTACK: a cell the student added (it has no nbgrader metadata, so nbgrader leaves it alone).
# It patches numpy and the grading rules inside the kernel: the scorer never runs in here, so it
# changes nothing, but the intake's scan reads every cell and flags it for review.
import labs.rules

np.allclose = lambda *args, **kwargs: True
labs.rules.LAB5_GATE_MIN_MSE = -1.0
labs.rules.lab5_quality = lambda *args, **kwargs: {"mse": 0.0, "points": 6.0}
