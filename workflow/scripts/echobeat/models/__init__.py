"""Models: construction by name (segmentation and EF video models) and every weight format."""
