"""What every REST function shares: dependencies, error mapping, app factory, Lambda entry."""
