# Finds cuDNN 9 once for the whole project (it has no imported target of its own) and
# defines cuvae::cudnn. Looks beside the CUDA toolkit first, then in system paths. With it the CUDA
# build has --conv cudnn (host/cuda/cudnn_conv.cu, CUVAE_HAVE_CUDNN); without it, not.
find_path(CUDNN_INCLUDE_DIR cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS} ENV CUDNN_ROOT PATH_SUFFIXES include)
find_library(CUDNN_LIBRARY cudnn HINTS ${CUDAToolkit_LIBRARY_DIR} ENV CUDNN_ROOT PATH_SUFFIXES lib64 lib)
if(CUDNN_INCLUDE_DIR AND CUDNN_LIBRARY)
  add_library(cuvae::cudnn UNKNOWN IMPORTED)
  set_target_properties(cuvae::cudnn PROPERTIES IMPORTED_LOCATION "${CUDNN_LIBRARY}"
                        INTERFACE_INCLUDE_DIRECTORIES "${CUDNN_INCLUDE_DIR}")
  message(STATUS "cuDNN: ${CUDNN_LIBRARY}")
else()
  message(STATUS "cuDNN not found: the CUDA backend is built without --conv cudnn (set CUDNN_ROOT)")
endif()
