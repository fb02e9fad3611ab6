"""Event-camera data sets read from their published files (N-MNIST)."""
