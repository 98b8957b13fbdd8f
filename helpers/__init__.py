"""Given code for the CIFAR-10 assignment kit (never stubbed in the student release)."""
