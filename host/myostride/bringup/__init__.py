"""Node bring-up: flash the firmware, configure nodes, the virtual board, the pre-trial check."""
