"""Training: strategies, callbacks, the train loop and the evaluation protocol."""
