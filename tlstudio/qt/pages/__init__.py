"""One page per workflow step; see base.Page for the contract."""
