def test_status_answers_without_a_key(client):
    response = client.get("/status")
    assert response.status_code == 200
    assert response.text == "I-AM-ALIVE"


def test_openapi_is_served_with_bearer_auth(client):
    schema = client.get("/openapi.json").json()
    assert schema["info"]["title"] == "accord"
