// host/error.hpp: the project's Error type and checks, defined at the bottom of the layers in
// kernels/error.hpp (kernels/ includes nothing from host/).
#pragma once
#include "kernels/error.hpp"
