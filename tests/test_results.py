"""The attention-on-face measurement of the results page."""

import numpy as np

from kavan_tf.results import face_cell_weights


def test_face_cell_weights_cover_the_ellipse():
    everything = face_cell_weights(np.array([31.5, 31.5, 200, 200, 0]), (64, 64), (4, 4))
    np.testing.assert_allclose(everything, 1.0)
    # A circle inside the top-left cell (pixels 0..15) covers only that cell.
    corner = face_cell_weights(np.array([7.5, 7.5, 6, 6, 0]), (64, 64), (4, 4), samples=32)
    assert corner[0, 0] > 0.4 and corner.sum() == corner[0, 0]
    np.testing.assert_allclose(corner[0, 0], np.pi * 36 / 256, atol=0.03)


def test_face_cell_weights_rotation():
    wide = np.array([31.5, 31.5, 30, 4, 0])
    tall = np.array([31.5, 31.5, 30, 4, 90])
    a = face_cell_weights(wide, (64, 64), (4, 4), samples=16)
    b = face_cell_weights(tall, (64, 64), (4, 4), samples=16)
    np.testing.assert_allclose(a, b.T, atol=1e-6)
