"""The dataflow layer: the accelerator as a chain of pipeline stages joined by streams.

streams.py      Stream (word formats), axi_width
stage.py        Stage / LinearStage: what every stage kind answers
window.py, mvtu.py, shared.py, pool.py, convert.py, io.py: one module per stage kind
                (mvtu.py also holds BasesStage, the MVTU over binary bases)
hls_rules.py    how an HLS kernel's loop touches its arrays (each stage's hls_kernels)
kernels.py      the kernels a folding can name for a linear layer
pairing.py      each linear layer with its threshold
lowering.py     IR -> Plan, one lowering function per IR layer type
plan.py         Plan: stages, streams, FIFO depths, the resource model's totals
folding.py      Fold / Folding: PE, SIMD, ROM and kernel per layer; legality; folding files
optimiser.py    the folding optimiser
cycles.py       the cycle model
resource_model.py (+ .json): LUT/FF/BRAM without synthesis
memory.py, border.py, share_schedule.py, layer_cache.py: what the stages are built from
bases.py        a layer's weights and inputs as binary bases (the MVTU over bases)
signgen.py      the fixed-sign generator's legality and tables
tables.py       the threshold load stream and the hardware fingerprint

Nothing here imports the CLI, a backend or a pass (tests/test_architecture.py).
"""
