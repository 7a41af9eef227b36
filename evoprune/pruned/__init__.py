"""Post-search steps on found masks: the test report, the NSGA-II front, compressed export, masked fine-tuning."""
