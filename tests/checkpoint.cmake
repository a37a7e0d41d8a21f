# Checkpoint tests: the safetensors writer/reader, including interop with Python's reference
# `safetensors` package (tests/python/check_safetensors.py; skipped where it is not installed).
cuvae_add_test(test_safetensors SOURCES test_safetensors.cpp LIBS cuvae_lib)
