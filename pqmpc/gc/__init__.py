"""Garbled circuits: circuit IR, Bristol Fashion, builder, half-gates and three-halves garbling.

Imported eagerly (unlike the other layers): the function ``garble`` shares its
name with its module, and binding it here once makes ``from pqmpc.gc import
garble`` the function whatever was imported before. Importing this package
compiles nothing; numba kernels compile on first use.
"""

from .build import Bits, CircuitBuilder
from .circuit import Circuit, bits_to_int, int_to_bits
from .evaluate import Evaluator, evaluate_garbled, evaluate_stream
from .garble import Encoder, GarbledCircuit, Garbler, garble
from .halfgates import BACKENDS, resolve_backend
from .labels import label_bytes_for, split_input_labels
from .schedule import Schedule
from .threehalves import SCHEMES
from .tweaks import Delta

__all__ = ["Circuit", "CircuitBuilder", "Bits", "garble", "Garbler", "GarbledCircuit", "Encoder",
           "evaluate_garbled", "Evaluator", "evaluate_stream", "int_to_bits", "bits_to_int",
           "Delta", "Schedule", "label_bytes_for", "split_input_labels", "BACKENDS",
           "resolve_backend", "SCHEMES"]
