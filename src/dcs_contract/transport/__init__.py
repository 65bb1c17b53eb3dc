"""The transport: the one guarded way out (GET only, budget, rate limit), its deadline, signing, proxies and TLS."""
