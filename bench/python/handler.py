"""Reference: the redirect written as a typical Python Lambda (boto3, client built at import),
doing the same DynamoDB work as functions/redirect: GetItem of the link, UpdateItem ADD on
today's counter, then a 302."""
import datetime
import json
import os

import boto3

TABLE = os.environ["TABLE_NAME"]
dynamodb = boto3.client("dynamodb")


def redirect(event, context):
    code = (event.get("pathParameters") or {}).get("code", "")
    usage = {"requests": 0, "units": 0.0}

    def count(resp):
        usage["requests"] += 1
        usage["units"] += resp.get("ConsumedCapacity", {}).get("CapacityUnits", 0.0)
        return resp

    item = count(dynamodb.get_item(
        TableName=TABLE, Key={"pk": {"S": code}, "sk": {"S": "link"}},
        ReturnConsumedCapacity="TOTAL")).get("Item")
    if item is None:
        result = {"statusCode": 404, "headers": {"content-type": "application/json"},
                  "body": json.dumps({"error": {"code": "not_found", "message": "no link"}})}
    else:
        day = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
        count(dynamodb.update_item(
            TableName=TABLE, Key={"pk": {"S": code}, "sk": {"S": "day#" + day}},
            UpdateExpression="ADD visits :one", ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnConsumedCapacity="TOTAL"))
        result = {"statusCode": 302,
                  "headers": {"location": item["url"]["S"], "cache-control": "private, no-store, max-age=0"}}
    print(json.dumps({"route": "redirect", "status": result["statusCode"],
                      "ddb_requests": usage["requests"], "ddb_capacity_units": usage["units"]}), flush=True)
    return result
