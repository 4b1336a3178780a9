"""calib/studies."""
