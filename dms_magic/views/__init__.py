"""How results show themselves: styles, the card, the masking view, the diff, and DataFrames (usage, logprobs)."""
