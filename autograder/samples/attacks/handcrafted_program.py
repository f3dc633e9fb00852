# ATTACK: send the scorer a hand-made "exported model": the honest program with an extra node
# that reads files through ATen (`from_file`: /proc/self/mem, the hidden data). The scorer
# must refuse the program instead of running it: no model points.
import labs.portable
from labs import wire

honest_export = labs.portable.export_generator


def export_generator(model, batch_size, n_warmup):
    programs = honest_export(model, batch_size, n_warmup)
    for program in programs.values():
        program.spec["nodes"].insert(0, {"name": "leak", "target": "aten.from_file.default",
                                         "args": ["/proc/self/mem"], "kwargs": [["size", 4096]]})
    return programs


labs.portable.export_generator = export_generator
print("export patched:", wire.__name__)
