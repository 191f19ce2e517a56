module github.com/adjoin/adjoin/services/endpointingest

go 1.26.7

require github.com/adjoin/adjoin/pkg v0.0.0

replace github.com/adjoin/adjoin/pkg => ../../pkg
