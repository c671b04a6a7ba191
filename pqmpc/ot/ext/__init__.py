"""OT extension: IKNP (PRG-based) and Ferret (LPN-based silent correlated OT)."""
