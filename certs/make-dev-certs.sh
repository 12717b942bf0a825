#!/usr/bin/env bash
# Makes a development CA and a server certificate for localhost / 127.0.0.1 / ::1 with openssl.
# Usage: certs/make-dev-certs.sh [OUT_DIR]   (default: the folder of this script)
# Writes: ca.pem, ca-key.pem, server.pem, server-key.pem. None of them is committed (.gitignore).
set -euo pipefail
out="${1:-$(cd "$(dirname "$0")" && pwd)}"
mkdir -p "$out"
cd "$out"
days=825

openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days "$days" \
  -subj "/CN=consentgate development CA" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout ca-key.pem -out ca.pem 2>/dev/null

openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=localhost" \
  -keyout server-key.pem -out server.csr 2>/dev/null

cat > server.cnf.tmp <<CNF
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
CNF
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
  -days "$days" -sha256 -extfile server.cnf.tmp -out server.pem 2>/dev/null
rm -f server.csr server.cnf.tmp ca.srl
chmod 600 ca-key.pem server-key.pem
echo "wrote $out/{ca.pem,ca-key.pem,server.pem,server-key.pem}"
