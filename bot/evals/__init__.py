"""`steadfast eval`: incident worlds with ground truth, run through the real loop, scored."""
