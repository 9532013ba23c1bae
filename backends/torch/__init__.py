"""PyTorch backend: ``nn.Linear`` layers, autograd, hand-written SGD/Adam (eager or compiled)."""
