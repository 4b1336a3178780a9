"""Built-in codebooks (TOML), read with :meth:`calib.data.codebook.Codebook.builtin`.

``personas`` recodes the Tianyi-Lab/Personas schema and ``llm-simulation`` the seed pipeline's own
ACS-attribute persona files (see docs/personas.md); ``anes2020``,
``cces2018`` and ``gss`` recode the shipped benchmark surveys (see calib.data.datasets).

>>> from calib.data.codebook import Codebook
>>> Codebook.builtin("personas").name
'personas'
"""
