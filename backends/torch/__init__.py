"""PyTorch backend: ``torch.nn`` layers (dense, conv, pooling), autograd, ``torch.optim``
(eager) or hand-written SGD/Adam in one torch.compile'd step (compile), and the DQN agent."""
