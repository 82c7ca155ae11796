"""Programme evaluation: feedback per practice, referral follow-up, outcome after outreach."""
