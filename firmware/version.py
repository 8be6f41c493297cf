"""Firmware version reported in status frames and advertising."""

FIRMWARE_VERSION = (0, 1, 0)
