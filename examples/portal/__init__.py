"""An applicant portal on verifykit's asyncio flavour: Starlette, Jinja2 and plain JavaScript.

Run it with ``make portal`` (development defaults); see ``examples/portal/README.md``.
"""
