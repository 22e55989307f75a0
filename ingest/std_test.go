package ingest

import "crypto/x509"

func parseStd(der []byte) (*x509.Certificate, error) { return x509.ParseCertificate(der) }
