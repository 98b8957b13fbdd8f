"""The notebooks' study code: given loops over models and hyperparameters, one module per
notebook (``two_layer_net``, ``fully_connected_networks``; Task 1's grid search is given code
in ``assignment/linear_classifier.py``) and the one evaluator all three share
(``evaluation``). The notebooks only call these functions and show what they return, so every
loop is given code that the kit's tests reach."""
