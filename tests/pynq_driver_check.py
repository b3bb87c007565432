"""Run by the Python of a separate venv holding pynq==3.0.1 and numpy 1.x (the board's
versions): the deploy folder's driver imports the real pynq API, packs images exactly as the
compiler's venv did, and unpacks and post-processes the scores the same way.

usage: python pynq_driver_check.py DEPLOY_DIR REFERENCE.npz
"""

import sys

import numpy as np


def main() -> None:
    deploy, reference = sys.argv[1], sys.argv[2]
    sys.path.insert(0, deploy)
    import bnn_driver
    import pynq
    from pynq import Overlay, allocate  # noqa: F401  (the API the driver uses on the board)

    ref = np.load(reference)

    class ReplayDevice:
        fclk_mhz = 100.0

        def run(self, words: np.ndarray, images: int, out_bytes: int) -> bytes:
            assert np.array_equal(words, ref["words"]), "packed words differ from numpy 2.x"
            return ref["scores"][:images].astype("<i4").tobytes()

    accel = bnn_driver.BnnAccelerator(deploy, device=ReplayDevice())
    labels = accel.predict_labels(ref["images"])
    assert np.array_equal(labels, ref["labels"]), "labels differ"
    assert np.allclose(accel.predict(ref["images"]), ref["outputs"], rtol=0, atol=0)
    try:  # no FPGA here: the board-only part must fail loudly, not hang
        bnn_driver.PynqDevice(deploy + "/bnn.bit")
        board = "loaded"
    except Exception as exc:
        board = f"{type(exc).__name__}: {str(exc)[:80]}"
    print(f"OK numpy {np.__version__} pynq {pynq.__version__}; board device: {board}")


if __name__ == "__main__":
    main()
