# ATTACK (with formula_model.py): the formula "model", never trained.
model = CosineRNN()
