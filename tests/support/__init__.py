"""Test support shared by the suite and the benchmarks: drivers for real terminals and peers."""
