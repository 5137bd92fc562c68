"""l1ad: FPGA anomaly-detection triggers from quantized jet autoencoders."""
