//! The I/O floor of a warm redirect under `make bench`: a Lambda bootstrap that does the same
//! I/O as the redirect and nothing else. Per event it reads `/next`, sends one `UpdateItem ADD`
//! to DynamoDB Local (fixed, unsigned: DynamoDB Local does not check signatures), writes one
//! log line and posts a 302. Blocking sockets, no runtime, no parsing beyond the HTTP framing,
//! no allocation in the loop: what is left of its CPU time is the kernel's work for three
//! loopback HTTP exchanges and a log line, a cost no implementation of the redirect avoids on
//! this harness. Not a function to deploy.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn env(name: &str) -> Result<String> {
    std::env::var(name).map_err(|_| format!("{name} is not set").into())
}

struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    line: String,
    body: Vec<u8>,
    request_id: String,
}

impl Conn {
    fn open(addr: &str) -> Result<Conn> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            reader: BufReader::with_capacity(16 * 1024, stream.try_clone()?),
            writer: stream,
            line: String::with_capacity(256),
            body: Vec::with_capacity(16 * 1024),
            request_id: String::with_capacity(64),
        })
    }

    /// Sends a whole request in one write and reads the response into `self.body`.
    fn exchange(&mut self, request: &[u8]) -> Result<()> {
        self.writer.write_all(request)?;
        let mut length = 0;
        self.request_id.clear();
        loop {
            self.line.clear();
            if self.reader.read_line(&mut self.line)? == 0 {
                return Err("connection closed".into());
            }
            let header = self.line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let value = value.trim();
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.parse()?;
                } else if name.eq_ignore_ascii_case("lambda-runtime-aws-request-id") {
                    self.request_id.push_str(value);
                }
            }
        }
        self.body.resize(length, 0);
        self.reader.read_exact(&mut self.body)?;
        Ok(())
    }
}

fn main() -> Result<()> {
    let runtime_api = env("AWS_LAMBDA_RUNTIME_API")?;
    let endpoint = env("AWS_ENDPOINT_URL")?;
    let ddb_addr = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let table = env("TABLE_NAME")?;
    let code = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "bench-link".into());

    let mut ddb = Conn::open(ddb_addr)?;
    let mut runtime = Conn::open(&runtime_api)?;

    let body = format!(
        r#"{{"TableName":"{table}","Key":{{"pk":{{"S":"{code}"}},"sk":{{"S":"day#2026-11-22"}}}},"UpdateExpression":"ADD visits :one","ExpressionAttributeValues":{{":one":{{"N":"1"}}}},"ReturnValues":"UPDATED_NEW","ReturnConsumedCapacity":"TOTAL"}}"#
    );
    let update = format!(
        "POST / HTTP/1.1\r\nhost: {ddb_addr}\r\ncontent-type: application/x-amz-json-1.0\r\n\
         x-amz-target: DynamoDB_20120810.UpdateItem\r\nx-amz-date: 20261122T000000Z\r\n\
         authorization: AWS4-HMAC-SHA256 Credential=local/20261122/us-east-1/dynamodb/aws4_request, \
         SignedHeaders=host;x-amz-date;x-amz-target, Signature=0000000000000000000000000000000000000000000000000000000000000000\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes();
    let next =
        format!("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nhost: {runtime_api}\r\n\r\n")
            .into_bytes();
    let answer = br#"{"statusCode":302,"headers":{"location":"https://example.com/bench-target","cache-control":"private, no-store, max-age=0"}}"#;
    let log_line =
        b"{\"level\":\"INFO\",\"fields\":{\"message\":\"request\",\"route\":\"io-floor\",\"ddb_requests\":1,\"ddb_capacity_units\":1.0}}\n";
    let mut response = Vec::with_capacity(512);
    let mut stdout = std::io::stdout().lock();

    loop {
        runtime.exchange(&next)?;
        ddb.exchange(&update)?;
        stdout.write_all(log_line)?;
        stdout.flush()?;
        response.clear();
        write!(
            response,
            "POST /2018-06-01/runtime/invocation/{}/response HTTP/1.1\r\nhost: {runtime_api}\r\n\
             content-type: application/json\r\ncontent-length: {}\r\n\r\n",
            runtime.request_id,
            answer.len()
        )?;
        response.extend_from_slice(answer);
        runtime.exchange(&response)?;
    }
}
