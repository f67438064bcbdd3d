"""Code generated from ``../proto/verifykit/v1/*.proto`` by ``make proto``. Do not edit by hand."""
