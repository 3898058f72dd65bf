"""The EchoNet layout and the fast data path: CSVs, tracings, video I/O, verification, synthetic data, cache."""
