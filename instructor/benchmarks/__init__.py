"""Speed benchmarks of the kit, side by side with torch.nn + autograd
(``python -m instructor.benchmarks``)."""
