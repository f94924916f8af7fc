"""Wire-level simulators of the hall devices, each on a pseudo-terminal."""
