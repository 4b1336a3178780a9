"""calib/core."""
