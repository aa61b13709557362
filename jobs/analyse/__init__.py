"""Stages 3-4: analyse each sampled query (VLM), reason over it (LLM), emit signals."""
