import numpy as np
import pytest

from labs import waves


def test_time_grid_uses_the_slides_spacing():
    assert np.allclose(waves.time_grid(100), np.linspace(0, 10, 100))
    assert waves.TIME_STEP == pytest.approx(10 / 99)


def test_make_sines_is_seeded_and_shifted():
    a, b = waves.make_sines(50, 30, seed=1), waves.make_sines(50, 30, seed=1)
    assert a.shape == (50, 30) and a.dtype == np.float32
    assert np.array_equal(a, b)
    assert not np.allclose(a, waves.make_sines(50, 30, seed=2))
    amplitude, phase, residual = waves.fit_sinusoid(a)
    assert np.allclose(amplitude, 1, atol=1e-5) and residual.max() < 1e-5
    assert phase.std() > 1.0, "shifts spread over the circle"


def test_fit_sinusoid_recovers_amplitude_and_phase():
    t = waves.time_grid(80)
    signal = np.stack([0.7 * np.cos(t + 1.2), 1.3 * np.cos(t + 5.0)])
    amplitude, phase, residual = waves.fit_sinusoid(signal)
    assert np.allclose(amplitude, [0.7, 1.3]) and np.allclose(phase, [1.2, 5.0])
    assert residual.max() < 1e-10


def test_fit_sinusoid_flags_a_wrong_time_step():
    wrong = np.cos(np.arange(200) * 0.2)[None]
    assert waves.fit_sinusoid(wrong)[2][0] > 0.1


@pytest.mark.parametrize("call", [
    lambda: waves.time_grid(0),
    lambda: waves.make_sines(0, 10),
    lambda: waves.fit_sinusoid(np.zeros(10)),
])
def test_bad_input_raises_value_error(call):
    with pytest.raises(ValueError):
        call()
