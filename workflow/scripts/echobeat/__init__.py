"""echobeat: the library behind the EchoNet-Dynamic reproduction workflow.

Its subpackages are its layers. docs/layout.md gives their order and each module's job (and says
where to add what); tests/test_layers.py holds every import to that order.
"""

__version__ = "0.1.0"
