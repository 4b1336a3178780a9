"""calib/estimation/compiled."""
