"""AlignedStack: frames already on the target grid are copied; others are resampled onto it."""
import numpy as np
from alignment_helpers import shifted_crpix, star_field

from data_operations.frames.alignment import AlignedStack


def _band(stack: AlignedStack) -> np.ndarray:
    ny = stack.shape[0]
    return np.concatenate([band.copy() for _, _, band in stack.bands(ny)], axis=1)


def test_frames_on_the_grid_are_copied_and_shifted_ones_resampled(write_frame, read_sci, tmp_path):
    shape = (30, 40)
    stars = [(12.0, 9.0), (27.5, 20.0)]
    rng = np.random.default_rng(3)
    reference = write_frame("ref", star_field(shape, stars) + rng.normal(0, 3, shape).astype(np.float32))
    same = write_frame("same", star_field(shape, stars, seed=1, noise=3.0))
    shifted = write_frame("shifted", star_field(shape, [(x + 0.3, y) for x, y in stars]),
                          **shifted_crpix(shape, 0.3, 0.0))

    with AlignedStack([reference, same, shifted], ["ref", "same", "shifted"], workdir=tmp_path / "aligned",
                      memory_budget_bytes=1 << 28) as stack:
        band = _band(stack)

    # The reference and a frame with the same WCS: exactly the decoded pixels, no interpolation.
    np.testing.assert_array_equal(band[0], read_sci(reference))
    np.testing.assert_array_equal(band[1], read_sci(same))
    # A third of a pixel off: resampled (bilinear), so it differs from its own pixels but lands
    # the stars where the reference has them.
    assert not np.array_equal(band[2], read_sci(shifted))
    assert abs(band[2][9, 12] - band[1][9, 12]) < 0.1 * band[1][9, 12]
