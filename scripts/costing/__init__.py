"""scripts/cost.py's parts: the prices and the adopter's profile
(`prices`, data), what the template says (`template`), the check that what
it refers to is emitted (`consistency`), the costs (`pricing`) and the
tables (`report`)."""
