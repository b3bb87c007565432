// The whole bnn-hls kernel library.
#ifndef BNN_KERNELS_H
#define BNN_KERNELS_H

#include "bnn_axis.h"
#include "bnn_common.h"
#include "bnn_convert.h"
#include "bnn_label.h"
#include "bnn_load.h"
#include "bnn_mvtu.h"
#include "bnn_pool.h"
#include "bnn_shared.h"
#include "bnn_swg.h"

#endif
