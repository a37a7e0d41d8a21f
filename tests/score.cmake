# score: the Frechet distance in a classifier's feature space (app/score.hpp) against NumPy/SciPy
# (tests/python/frechet_reference.py), and `cuvae score` end to end.
cuvae_add_test(test_score SOURCES test_score.cpp LIBS cuvae_lib GTest::gmock LABEL cli)
add_dependencies(test_score cuvae)
# `cuvae compare generators`: the codes' coverage of the prior, and the command end to end
cuvae_add_test(test_generators SOURCES test_generators.cpp LIBS cuvae_lib GTest::gmock LABEL cli)
add_dependencies(test_generators cuvae)
