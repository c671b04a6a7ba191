"""Base OTs: Masny-Rindal over ML-KEM, Mod-LWR OT over Saber, X25519 baseline."""
